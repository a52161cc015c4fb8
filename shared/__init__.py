"""Code the coordinator and the workers share: trials, stores, the OCR objective."""
