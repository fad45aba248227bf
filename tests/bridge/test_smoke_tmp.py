async def test_login(server, rest, xmpp):
    a = await rest.new_user()
    c = await xmpp(a)
    assert c.resource
    print(server.bridge.status())
