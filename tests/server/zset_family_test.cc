// (being written) Tests of the zset command family.
