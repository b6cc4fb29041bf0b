"""python -m topshare"""

from topshare.cli import main

main()
