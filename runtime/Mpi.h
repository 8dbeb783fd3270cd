// The Collective over MPI (Open MPI): linked into trainers built with
// `cnnc --distributed` only.
#pragma once

#include "Collective.h"

namespace cnnc_rt {

// MPI_Init (from the trainer's main) and the job's communicator; null
// when MPI cannot start. Finalised at exit.
Collective* mpiCollective(int* argc, char*** argv);

}  // namespace cnnc_rt
