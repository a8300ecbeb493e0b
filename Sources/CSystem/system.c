#include "CSystem.h"
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
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

static volatile sig_atomic_t stop_signal = 0;

// Only async-signal-safe calls here: write and _exit.
static void on_stop(int number) {
    if (stop_signal != 0 && number == SIGINT) {
        static const char now[] = "\nstopping now\n";
        (void)!write(2, now, sizeof now - 1);
        _exit(130);
    }
    stop_signal = number;
    static const char later[] = "\nstopping after this step and writing a checkpoint (Ctrl-C again stops at once)\n";
    (void)!write(2, later, sizeof later - 1);
}

void runner_install_stop_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    // A parent may have started runner with these blocked (a thread's mask is inherited).
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &stops, NULL);
}

int runner_stop_signal(void) { return stop_signal; }
