import VLANWire
print("x")
