// (being written) The set command family.
