"""Unit tests of the snakeherd library, one file per module, laid out as the library is
(workflow/scripts/snakeherd/)."""
