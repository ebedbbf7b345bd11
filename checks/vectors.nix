# `nix-instantiate --eval --strict checks/vectors.nix` prints true, or throws listing the failing cases.
# (nix-instantiate --eval does not call a file's function with its defaults, hence this file.)
(import ./. { }).vectors
