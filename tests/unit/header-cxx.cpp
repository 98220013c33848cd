// header-cxx.cpp — framebus.h compiles as C++ (built, never run).
#include "framebus.h"
int fbus_header_cxx_test();
int fbus_header_cxx_test() { struct fbus_format f = {}; return fbus_format_layout(&f); }
