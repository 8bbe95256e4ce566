import sys

from llmloop.examples.travel import main

sys.exit(main())
