// (being written) Tests of the hash command family.
