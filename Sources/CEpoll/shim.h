// Linux's epoll, which Swift's Glibc module does not export.
#ifdef __linux__
#include <sys/epoll.h>
#endif
