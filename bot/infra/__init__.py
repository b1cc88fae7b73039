"""What the servers share below the domain: the server secret, conversation identity,
private files, rate limits."""
