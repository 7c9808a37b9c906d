// (being written) The hash command family.
