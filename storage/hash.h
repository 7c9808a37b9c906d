#pragma once
// (being written) The hash value type.
