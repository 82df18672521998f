"""From files to model inputs: readers, alphabets, encoding, features, splits, transforms, synthetic landscapes."""
