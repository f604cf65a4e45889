"""The workflow through real Snakemake in temporary directories (marked ``workflow``; the SLURM
ones also ``slurm``)."""
