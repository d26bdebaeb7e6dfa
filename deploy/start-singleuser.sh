#!/bin/sh
# A student's Jupyter server on a JupyterHub: on every start, lessons not yet in the student's
# folder are copied there (student versions, no solutions; a copy that exists is never touched,
# so their work survives), then the single-user server starts. Used by deploy/Dockerfile and
# tests/test_hub.py (LocalProcessSpawner). LAB_UTILS_LESSONS_FOLDER moves the folder.
set -e
folder="${LAB_UTILS_LESSONS_FOLDER:-$HOME/lessons}"
python -m lab_utils.students "$folder"
exec python -m jupyterhub.singleuser "$@"
