"""rnnlm-fast: Mikolov-style recurrent neural network language models on multicore CPUs."""
