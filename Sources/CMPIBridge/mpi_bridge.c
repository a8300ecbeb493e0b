#include "mpi_bridge.h"
#include <limits.h>
#include <mpi.h>
#include <string.h>

int runner_mpi_start(int *rank, int *size, char *version, int capacity) {
    int provided = 0;
    int status = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (status != MPI_SUCCESS) return status;
    // Errors come back as codes (runner reports them) rather than aborting inside MPI.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if ((status = MPI_Comm_rank(MPI_COMM_WORLD, rank)) != MPI_SUCCESS) return status;
    if ((status = MPI_Comm_size(MPI_COMM_WORLD, size)) != MPI_SUCCESS) return status;
    int length = 0;
    char text[MPI_MAX_LIBRARY_VERSION_STRING];
    if (MPI_Get_library_version(text, &length) == MPI_SUCCESS && capacity > 0) {
        // The first line only ("Open MPI v4.1.4, package: ...").
        int n = 0;
        while (n < length && n < capacity - 1 && text[n] != '\n' && text[n] != ',') n++;
        memcpy(version, text, (size_t)n);
        version[n] = 0;
    }
    return MPI_SUCCESS;
}

// MPI counts are ints: a buffer longer than INT_MAX elements goes in pieces.
int runner_mpi_sum_floats(float *values, size_t count) {
    while (count > 0) {
        int piece = count > (size_t)INT_MAX ? INT_MAX : (int)count;
        int status = MPI_Allreduce(MPI_IN_PLACE, values, piece, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (status != MPI_SUCCESS) return status;
        values += piece;
        count -= (size_t)piece;
    }
    return MPI_SUCCESS;
}

int runner_mpi_sum_doubles(double *values, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

int runner_mpi_max_int(int *value) { return MPI_Allreduce(MPI_IN_PLACE, value, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD); }

int runner_mpi_broadcast_floats(float *values, size_t count) {
    while (count > 0) {
        int piece = count > (size_t)INT_MAX ? INT_MAX : (int)count;
        int status = MPI_Bcast(values, piece, MPI_FLOAT, 0, MPI_COMM_WORLD);
        if (status != MPI_SUCCESS) return status;
        values += piece;
        count -= (size_t)piece;
    }
    return MPI_SUCCESS;
}

int runner_mpi_broadcast_ints(int *values, int count) { return MPI_Bcast(values, count, MPI_INT, 0, MPI_COMM_WORLD); }

int runner_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

int runner_mpi_finish(void) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    return finalized ? MPI_SUCCESS : MPI_Finalize();
}

void runner_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

void runner_mpi_error_text(int code, char *text, int capacity) {
    char message[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (capacity <= 0) return;
    if (MPI_Error_string(code, message, &length) != MPI_SUCCESS) length = 0;
    if (length > capacity - 1) length = capacity - 1;
    memcpy(text, message, (size_t)length);
    text[length] = 0;
}
