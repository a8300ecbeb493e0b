#include "CSystem.h"
#include <unistd.h>
#ifdef __linux__
#include <signal.h>
#include <sys/prctl.h>
#endif

int runner_die_with_parent(pid_t parent) {
#ifdef __linux__
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) return -1;
    // The parent may have died before the request: then no signal will come.
    return getppid() == parent ? 0 : -1;
#else
    (void)parent;
    return 1;
#endif
}
