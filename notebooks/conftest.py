"""``pytest --nbval notebooks/`` runs each notebook in a kernel of the Python that runs pytest.

The notebooks name the kernel ``python3``; a Jupyter install can leave a user-level ``python3``
kernel spec (``~/.local/share/jupyter/kernels/python3``) pointing at another Python, where
``import facnn`` fails. Forcing nbval's ``--nbval-current-env`` here makes the command work as
typed with the project's venv active, on any machine.
"""


def pytest_configure(config):
    if hasattr(config.option, "nbval_current_env") and not config.option.nbval_kernel_name:
        config.option.nbval_current_env = True
