"""The web pages served under /ui/: an HTML shell per page (pages.py) and static files (static/).

The pages hold no data of their own: their scripts read the REST API with the API key the user
enters once, kept in the browser tab's sessionStorage. Nothing is fetched from another host.
"""
