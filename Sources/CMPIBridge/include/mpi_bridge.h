#ifndef RUNNER_MPI_BRIDGE_H
#define RUNNER_MPI_BRIDGE_H
#include <stddef.h>

/// The few MPI calls runner makes, as plain functions: Open MPI's handles (MPI_COMM_WORLD,
/// MPI_FLOAT, MPI_SUM) are macros over its internal globals, which Swift cannot import.
/// Every function returns MPI's error code (0: success); only the main thread calls them.

/// MPI_Init_thread (funneled: worker threads compute, the main thread communicates); rank and
/// size of MPI_COMM_WORLD; the library's version string into `version` (NUL-terminated).
int runner_mpi_start(int *rank, int *size, char *version, int capacity);
/// Sums `count` floats (doubles) elementwise over every rank, in place.
int runner_mpi_sum_floats(float *values, size_t count);
int runner_mpi_sum_doubles(double *values, int count);
/// The largest of each rank's `value`, on every rank.
int runner_mpi_max_int(int *value);
/// Rank 0's `count` floats (ints) copied to every rank.
int runner_mpi_broadcast_floats(float *values, size_t count);
int runner_mpi_broadcast_ints(int *values, int count);
int runner_mpi_barrier(void);
int runner_mpi_finish(void);
/// Ends every rank of the job with `code` (a rank that cannot go on).
void runner_mpi_abort(int code);
/// MPI's message for an error code, into `text`.
void runner_mpi_error_text(int code, char *text, int capacity);

#endif
