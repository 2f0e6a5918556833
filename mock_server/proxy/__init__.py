"""The validating proxy (`leadvibe-mock --proxy UPSTREAM`): real traffic judged against openapi.yaml."""
