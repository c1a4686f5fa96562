from fovea_ctl.cli import main

main()
