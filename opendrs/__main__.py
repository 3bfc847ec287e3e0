from opendrs.cli import main

raise SystemExit(main())
