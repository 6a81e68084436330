"""The shopper's address book: saved shipping and billing addresses, one account-wide list."""
