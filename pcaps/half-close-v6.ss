# netns client
State      Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
FIN-WAIT-2 0      0      [2001:db8::1]:52582 [2001:db8::2]:83         
# netns server
State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN     0      4096   [2001:db8::2]:83            [::]:*           
CLOSE-WAIT 0      0      [2001:db8::2]:83   [2001:db8::1]:52582       
