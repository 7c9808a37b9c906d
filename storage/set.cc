#include "storage/set.h"
