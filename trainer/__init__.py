"""Learning: datasets, critic, RL loop, imitation from slider histories, evaluation."""
