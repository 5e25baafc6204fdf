"""Stage 3, transform: mappings compiled when they load, their JMESPath functions, and the joins that turn Bromcom rows into ParentPay records."""
