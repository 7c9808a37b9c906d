#pragma once
// (being written) The set value type.
