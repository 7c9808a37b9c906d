// (being written) Tests of the set command family.
