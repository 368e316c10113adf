"""What every layer of facnn shares: the registry of models and methods, input checks, atomic
files, project paths, mode restoring and map resizing. Nothing here imports the rest of facnn."""
