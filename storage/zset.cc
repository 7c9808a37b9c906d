#include "storage/zset.h"
