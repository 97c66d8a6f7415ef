"""NetSuite SuiteTalk REST: authentication, the client and error classification."""
