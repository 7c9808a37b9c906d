// (being written) The zset command family.
