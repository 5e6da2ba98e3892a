"""The models that run at inference, one subpackage each: architecture, checkpoint loading, predict / sample.

`curation`, `annotation` and `pipelines` import from here, never from `training`; `training` builds on the
same classes, so what is trained is exactly what is served.
"""
