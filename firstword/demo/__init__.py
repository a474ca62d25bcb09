"""`firstword demo`: a synthetic retailer and a scripted incident on an injected clock.

retailer.py (with geography, people, orders, demand) makes the data; scenario/ is the script;
steps.py is the registry later parts add their demo steps to; runner.py and cli.py run it.
"""
