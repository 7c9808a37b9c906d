#pragma once
// (being written) The zset value type.
