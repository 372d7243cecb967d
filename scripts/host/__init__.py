"""Host side of the hardware: the board client and its transports, and the model adapter for golden's training loop."""
