"""Data-parallel training across MPI processes (``mpiexec -n N rnnlm-fast train ... --distributed``,
or ``RNNLM.train(..., comm=MPI.COMM_WORLD)``): trainer.py runs the epochs, sync.py combines the
weights, mpi.py holds the MPI glue and the failure rules, launch.py supervises each process of
``rnnlm-fast train --distributed`` (rnnlm_fast/runs.py runs the command's request there).
mpi4py (the ``mpi`` extra) is imported only when a distributed run starts."""

from .mpi import INSTALL_HINT
from .trainer import DistributedTrainer, resume

__all__ = ["DistributedTrainer", "resume", "INSTALL_HINT"]
