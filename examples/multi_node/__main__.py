from examples.multi_node.run import main

main()
