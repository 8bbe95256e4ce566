from llmloop.cli import main

main()
