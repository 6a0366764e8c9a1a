"""Helpers the test modules import (servers, environments, files, clients): conftest.py files
only declare fixtures, and a module needing a helper imports it from here, never from a conftest."""
