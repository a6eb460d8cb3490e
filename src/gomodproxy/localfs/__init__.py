"""Local-disk I/O the adapters share.

- ``zipfiles``  module zips on disk: read a directory or zip, write, hash and check a zip
- ``ziplimits`` the entry count of a zip, read from its central directory before opening it
- ``workdir``   where downloads in progress and lock files go
- ``filelock``  an exclusive ``flock`` shared by the processes of one host, taken by polling
- ``procs``     whether a process id is alive (to sweep files of killed workers)
"""
