"""The one place the API version lives."""

VERSION = "33.1.0"
