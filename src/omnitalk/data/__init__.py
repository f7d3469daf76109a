"""Dataset factory: text conversations -> spoken training data, resumably (`omnitalk data`)."""
