#ifndef RUNNER_CSYSTEM_H
#define RUNNER_CSYSTEM_H

#include <sys/types.h>

/// Asks the kernel to send this process SIGTERM when `parent` dies (Linux: PR_SET_PDEATHSIG,
/// which Swift cannot call: prctl is variadic). Returns 0, or -1 when `parent` is already gone
/// (the caller should stop) or the platform has no such request (macOS: 1, nothing done).
int runner_die_with_parent(pid_t parent);

/// SIGINT and SIGTERM handlers (sigaction: no thread needed, unlike a Dispatch signal source):
/// the first records its signal and prints that the run stops after this step; a second SIGINT
/// exits at once with status 130.
void runner_install_stop_handlers(void);

/// The signal that asked runner to stop, or 0.
int runner_stop_signal(void);

#endif
