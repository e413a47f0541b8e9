// Linux's epoll and eventfd, and pthread_setname_np, which Swift's Glibc module does not export.
#ifdef __linux__
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

// Declared by glibc only under _GNU_SOURCE, which the Glibc module is built without.
int pthread_setname_np(pthread_t thread, const char *name);
#endif
