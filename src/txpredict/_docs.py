"""Parameter descriptions shared by several docstrings (one text, many places)."""

docdict = {
    "n_jobs": """n_jobs : int or None, default=None
        Number of processes used across subjects (joblib). ``None`` means 1
        unless inside a :func:`joblib.parallel_config` context; ``-1`` uses
        every core. Results do not depend on it.""",
    "memory": """memory : str, pathlib.Path, joblib.Memory or None, default=None
        Folder of the on-disk feature cache. Entries are keyed by each file's
        identity (absolute path, size, modification time) and by the extractor's
        parameters, so a changed file or parameter is never served stale.
        ``None`` disables caching.""",
    "verbose": """verbose : int, default=1
        0 is silent; 1 shows a progress bar on extractions of 20 images or
        more.""",
    "image_column": """image_column : str, default="image"
        Column of ``X`` holding image paths or nibabel images, when ``X`` is a
        DataFrame.""",
    "random_state": """random_state : int, numpy.random.Generator or None, default=None
        Seed of every random draw. Pass an int for reproducible results.""",
}


def fill_doc(obj):
    """Fill ``%(name)s`` placeholders of ``obj.__doc__`` from :data:`docdict`."""
    if obj.__doc__:
        obj.__doc__ = obj.__doc__ % docdict
    return obj
