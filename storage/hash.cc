#include "storage/hash.h"
